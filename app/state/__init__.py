"""The application's state, Qt-free (:class:`~app.state.model.AppState`): the views and controllers of the
desktop app observe it; it never imports Qt, so it is tested without a display."""

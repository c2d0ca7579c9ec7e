"""Controllers of the desktop app (Qt): each owns one job between the views and the Qt-free
:class:`app.state.model.AppState` — datasets, runs, routing results to views, the voxel card, exports and
the saved session. :class:`app.main_window.MainWindow` composes them."""

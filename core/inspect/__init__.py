"""Looking at one voxel: everything the voxel card shows, gathered Qt-free (:mod:`core.inspect.voxel`)."""

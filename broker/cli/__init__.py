"""The ``liaison`` command line: composition only; the work happens in the core and the edges."""

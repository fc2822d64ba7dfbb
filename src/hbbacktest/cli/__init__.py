"""The ``hbbacktest`` command line: parse, call the service, render, exit."""

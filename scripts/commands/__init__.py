"""One thin module per command: parse arguments, call a library function, return its result."""

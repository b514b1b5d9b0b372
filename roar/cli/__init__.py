"""The command line: a thin layer that parses, calls the layers below, prints."""

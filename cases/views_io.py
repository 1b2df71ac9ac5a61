"""Import and export of a trainee's case log (issue 4, item 8)."""

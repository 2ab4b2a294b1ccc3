"""The logic of the book's chapters: one module per chapter, the top layer beside plots and the CLI.

A chapter notebook is prose and calls. Everything it computes (statistics, tables, verdict text,
figures and the values it glues into its prose) comes from a function here, so it is tested like the
rest of the package: every verdict function has a unit test for each of its outcomes on synthetic
results (``tests/pages/``).
"""

"""整改台账: the problems each approved report names, followed through the
year by its unit, closed by the office, and carried into next year's report.

models.py holds the tables, logic.py the rules that need no database,
outputs.py the .xlsx and the Word document, views.py the pages, cli.py the
`flask ledger` commands.
"""

"""述职评议: the democratic rating of the secretaries at the 述职评议会 —
tables (models), rules (logic), the office's pages (views), the raters'
ballot (ballot), slips and results (documents), commands (cli)."""

"""Report: the tidy metrics table (`tidy`), intervals and tests over seeds and documents
(`significance`), the paper's tables (`tables`) and figures (`figures`), and a cell's learning
curve (`cell_figures`)."""

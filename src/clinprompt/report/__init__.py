"""Report: the tidy metrics table and the paper's tables (`aggregate`), and the figures
(`figures`)."""

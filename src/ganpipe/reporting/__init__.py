"""What people read: the verdict, figures, the HTML/Markdown pages, the report and the comparison of experiments."""

"""Excel exports of any list: a job that writes the filtered rows of a view to .xlsx, with its progress in a table."""

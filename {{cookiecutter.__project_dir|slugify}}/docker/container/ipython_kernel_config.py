"""IPython kernel settings for the course image (desktop=yes): see docker/course_desktop.py."""

c = get_config()  # noqa: F821 - provided by IPython when it loads this file

# Windows opened by a notebook cell (tkinter, turtle) keep being drawn after the cell.
c.InteractiveShellApp.extensions = ["course_desktop"]

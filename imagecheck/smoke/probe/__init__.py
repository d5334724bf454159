"""Code that runs INSIDE the image: the standard library only, Python 3.8 and later.

Nothing here imports the rest of imagecheck; the host reads ``runner.py`` as text and
hands it to the image's interpreter with ``-c``.
"""

"""One companion module per book chapter: its parameter SPEC, ``validate`` and the chapter's steps."""

import warnings

# tqdm.auto warns in a kernel without ipywidgets; the book would show it as a stderr block.
warnings.filterwarnings("ignore", message="IProgress not found")

"""One companion module per book chapter: its parameter SPEC, ``validate`` and the chapter's steps."""

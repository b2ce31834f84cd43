"""Notebook 06's quiz: drawing and scoring it (draw), the answer files a class pools
(answer_files), and the widget students answer in (widget).

Modules only; each name is imported from the module that defines it.
"""

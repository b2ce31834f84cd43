"""Evaluation: the prediction frame (predictions), metrics and breakdowns (metrics), how sure an
accuracy is (confidence), saved runs and the best-run rule (results), ensembles, collapse
diagnostics, Grad-CAM explanations, and the report's published figures (report_figures).

Modules only; each name is imported from the module that defines it.
"""

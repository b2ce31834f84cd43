"""The chapters' experiments: notebook 02's collapse set beside the remedy (collapse), the leak of
notebook 03b (leak) and notebook 06's attempts at honest detection (attempts, attempt_files,
attempt_report, patches).

Modules only; each name is imported from the module that defines it.
"""

"""The data, notebook 00's chapter: index the images, split them (duplicate-aware, the shipped
manifest), download or generate them, crop and decode them, transform and batch them.

Modules only; each name is imported from the module that defines it.
"""

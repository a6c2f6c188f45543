"""Text in and text checked: reading a Word file into a report's fields
(word_import), and the 公文 proof-reader beside every field (proofread).

Both work from the report's type alone (its sections, fields, kinds and
labels): neither knows a field by name.
"""

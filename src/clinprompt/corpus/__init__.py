"""Corpus stage: the BRAT format (`brat` documents and writing, `brat_parser`
reading, `annotation_conf`), dataset schemas (`schema`), validation
against a schema (`validation`), corpus tables (`tables`), SDoH events and values (`events`) and
corpus statistics (`stats`)."""

"""Synthetic BRAT corpora: the note writer (`note`), the drug/ADE corpus and its lexicon
(`drug_ade`, `drug_lexicon`), the SDoH corpus (`sdoh`) and the corpus kinds (`corpora`)."""

"""Example tables: corpus tables and a fast tokenizer in, one model-ready row per example out.

Every strategy sees the same text: concept rows hold `context_tokens(..., "concept")` context
tokens and relation rows the trigger's relation context — the previous, the trigger's and the
next relation window (a third of the relation budget each), so arguments written before the
trigger are reachable — whatever the query, prompt or markers around them.
`finetune`: one BIO row per window (IOB2 on words: a word's first token carries the tag, its
continuation tokens -100; gold is widened to whole words, counted as `entities_widened_to_words`;
overlapping gold keeps the longest mention, then the earliest, the rest counted as
`overlapping_dropped`) and one pair row per (candidate, trigger)
in the trigger's relation context, with `[s1] .. [e1]` around Arg1 and `[s2] .. [e2]` around
the trigger (Arg2). `hard`: MRC rows `[CLS] query [SEP] context [SEP]` (segments 0/1) for
every (window, concept type) and every (trigger, relation type), the relation query being
the schema template filled with the trigger's text (its span's whitespace-normalised document
text, cut after `max_trigger_tokens` tokens). `soft` and `soft-frozen`: the same rows as
single sequences `[CLS] context [SEP]` with `prompt_index` naming the soft prompt. Since one
prompt per relation type cannot tell two triggers in a window apart, soft relation rows mark
the trigger as `[t] .. [/t]`; hard rows mark it too unless `trigger_markers` is false (the
study's unmarked prompt). Columns extend the architecture's with `marker_positions` (input
positions of `[s1] [s2] [e1] [e2]`, or of `[t] [/t]`); `window` counts the windows of the
row's own kind (concept windows for concept, BIO and pair rows, relation windows for MRC
relation rows); `prompt_index` runs over `prompt_types(schema)`. Answers and labels come only
from gold tables passed in (null otherwise); `build_examples` never makes gold-trigger
relation rows for test documents, whose triggers are the predicted concepts. For a schema with
labeled arguments (SDoH), MRC and BIO rows with gold also list the row's gold spans of those
types that carry a value (answers, or the BIO mentions kept) as `value_starts`/`value_ends`
(input positions) and `value_labels` (ids of `events.ValueVocabulary`); null otherwise.

Modules, as the rows are made: `settings` (ExampleSettings, the table's columns, the model's
vocabulary), `inputs` (templates, contexts and budgets every row kind shares, the relation
context around a trigger), `mrc` (concept and relation query rows), `finetune` (BIO and
entity-marker pair rows), `tables` (a corpus's example table, negatives down-sampled, Parquet)
and `shots` (few-shot draws).
"""

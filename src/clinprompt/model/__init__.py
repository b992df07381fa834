"""The model: the BERT-family encoder (`encoder`, `encoder_config`), checkpoint folders loaded into
it (`checkpoint`), soft prompts (`prompts`), heads (`heads`) and the extraction model of each
strategy (`extraction`)."""

"""One file per schema revision, in order; never edit one that has shipped."""

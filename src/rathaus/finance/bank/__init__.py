"""Bank statements (camt.053): the parser (`camt`, its records in `camt_model`, the hardened XML input in
`camt_xml`), a writer for tests and demos (`writer`), the parser's child process (`process`) and the import
that books a statement (`importer`). Nothing here but the importer uses Django: the child process imports
this package without it."""

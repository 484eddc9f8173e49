-- One spelling, IFSF's: fuelling. The table keeps its rows, keys and indexes; only its name changes.
ALTER TABLE business.fueling_transactions RENAME TO fuelling_transactions;

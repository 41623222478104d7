"""A cell's record and its file: the typed Result (result), its checks (validate), the store of a
grid's records (store), and the file safety (disk) and step arithmetic (steps) they rest on."""

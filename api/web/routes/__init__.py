"""Page routes, one module per audience: researchers (find), everyone (directory), operators, policy staff."""

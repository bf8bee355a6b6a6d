"""Customers stay in the monolith: the ACL client that answers the orders service's CustomerDirectory port."""

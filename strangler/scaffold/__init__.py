"""Project scaffolding for `strangler init` / `strangler add`: what the legacy app offers (discover), the
files a new project starts from (generate), init's proposed features kept in the route table (proposals),
and data-mapping skeletons from a legacy table's columns (mapping)."""

"""Each chapter's figures, one module per chapter (``figures.ch0`` ... ``figures.ch5``), drawn
from its result at the book column's width (:data:`scalinglaws.plotting.COLUMN_IN`); the
chapters call one function per section and compute nothing themselves."""

"""Sources: where listings come from and how they are read. ``captures`` reads listing files
into captures, ``fetch`` gets URL sources over HTTP, ``parse`` recognises a capture's format
and hands it to its parser (``pagetext``, ``htmlpage``, ``jsonfeeds``, ``xmlfeeds``)."""

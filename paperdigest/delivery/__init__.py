"""Delivery: what a reader receives. ``textsafe`` cleans untrusted paper text; ``render`` makes
Markdown, plain-text and HTML digests from templates; ``emailmsg`` builds the email;
``smtp`` sends it; ``feeds`` writes RSS and Atom."""

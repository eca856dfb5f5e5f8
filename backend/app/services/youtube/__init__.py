"""YouTube: video ids from the links people paste (`links.py`), captions fetched through
youtube-transcript-api (`fetcher.py`), playlists and channels listed through yt-dlp
(`listing.py`), and both libraries' failures told as one set of reasons (`failures.py`)."""

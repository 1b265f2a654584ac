"""What people read: redlines, announcements, the changelog, the feed and the site."""

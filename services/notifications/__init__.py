"""In-app notifications (with a live badge) and e-mail when SMTP is configured."""

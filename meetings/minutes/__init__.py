"""Minutes (biên bản) of a meeting: live minute-taking with revisions, closing, signing, numbering."""

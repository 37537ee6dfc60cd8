"""The S3 API beside Swift's, as Swift's s3api offers it: buckets are containers of the
caller's account, objects are objects; requests are signed with AWS Signature V4 (checked by
identity against the EC2 credential) and translated into the Swift operations."""

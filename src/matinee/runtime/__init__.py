"""The service runtime: one factory for every service app, transports, tracing and logs."""

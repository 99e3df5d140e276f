// HTTP2Engine

module example.com/{{name}}

go 1.26.0

require plugwire.dev/sdk-go v0.1.0

// The plugwire SDK from its checkout.
replace plugwire.dev/sdk-go => {{sdk}}/sdk-go

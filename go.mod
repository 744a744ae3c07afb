module github.com/roadrunner-wasm/roadrunner

go 1.26

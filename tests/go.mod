module github.com/acmeforward/acmeforward/tests

go 1.26

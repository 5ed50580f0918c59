module sockcheck.interop

go 1.19

module localkube.local/kubia

go 1.22

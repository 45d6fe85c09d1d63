module modelmirror.test/pause

go 1.22

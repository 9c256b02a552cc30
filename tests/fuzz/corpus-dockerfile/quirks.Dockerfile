from alpine as Base
  run echo \
  
  continued \\
Run [ "sh", "-c", "broken json" 
CMD ["a", \
     "b"]
copy --link -- --odd /dst
add --keep-git-dir=true --unpack https://example.invalid/x.tgz /x/
healthcheck none
maintainer someone
onbuild copy . /app
FROM base
COPY --from=0 / /

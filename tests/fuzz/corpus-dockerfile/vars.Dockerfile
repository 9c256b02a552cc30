ARG A=1 B C="three words"
FROM scratch
ARG A
ENV X=$A Y=${A:+set} Z=${B:-unset} W='$A' V="${C}" U=\$A
ENV OLD legacy value $A
LABEL file=${F%.*} base=${F##*/} sub=${F/a/b} all=${F//a/b}
WORKDIR /w/${A:?A must be set}
EXPOSE ${PORT:-80}
USER ${USER:-nobody}
ARG F=/a/b/archive.tar.gz

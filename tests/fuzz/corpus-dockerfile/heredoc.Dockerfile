FROM busybox
RUN <<EOF
set -e
echo $HOME > /home.txt
EOF
RUN <<-"END" sh
	echo literal $HOME
	END
RUN cat <<A >/a && cat <<'B' >/b
a ${X:-dflt}
A
b
B
COPY <<EOF /etc/app.conf
key=${VALUE:-none}
EOF
ONBUILD RUN <<X
echo later
X
